package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** GrpcTimeoutHeader and ConnectTimeoutHeader: the two foreign timeout formats, both ways. */
class TimeoutHeadersTest {

  @ParameterizedTest(name = "grpc-timeout \"{0}\" = {1} ns")
  @CsvSource({
    "1n, 1",
    "0n, 0",
    "250m, 250000000",
    "' 3S\t', 3000000000",
    "2M, 120000000000",
    "1H, 3600000000000",
    "100u, 100000",
    "99999999n, 99999999",
    "00000001S, 1000000000"
  })
  void grpcParsesEveryUnit(String value, long nanos) {
    assertEquals(Duration.ofNanos(nanos), GrpcTimeoutHeader.parse(value));
  }

  @Test
  void grpcLargestValueDoesNotOverflow() {
    assertEquals(Duration.ofHours(99_999_999L), GrpcTimeoutHeader.parse("99999999H"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"", " ", "m", "5", "5X", "5 m", "-5m", "+5m", "1.5S", "123456789n", "5mm", "５m",
        "5m\u00a0", "\u20035m", "5h", "5s", "5,6m"})
  void grpcRejectsMalformedValues(String value) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> GrpcTimeoutHeader.parse(value));
    assertTrue(e.getMessage().contains("grpc-timeout"), e.getMessage());
    assertQuoted(value, e.getMessage());
  }

  /** The message quotes the value as it is when it is printable ASCII, and holds nothing else. */
  private static void assertQuoted(String value, String message) {
    if (value.chars().allMatch(TimeoutHeadersTest::printable)) {
      assertTrue(message.contains("\"" + value + "\""), message);
    }
    assertTrue(message.chars().allMatch(TimeoutHeadersTest::printable), message);
  }

  private static boolean printable(int c) {
    return c >= 0x20 && c < 0x7f;
  }

  @ParameterizedTest(name = "{0} ns -> \"{1}\"")
  @CsvSource({
    "-1, 0n",
    "0, 0n",
    "1, 1n",
    "99999999, 99999999n",
    "100000000, 100000u",
    "100000999, 100000u",
    "250000000000, 250000m",
    "99999999999999, 99999999m",
    "100000000000000, 100000S",
    "9223372036854775807, 2562047H"
  })
  void grpcFormatsInTheFinestUnitThatFitsRoundingDown(long nanos, String expected) {
    assertEquals(expected, GrpcTimeoutHeader.format(Duration.ofNanos(nanos)));
    if (nanos > 0) {
      Duration back = GrpcTimeoutHeader.parse(expected);
      assertTrue(back.compareTo(Duration.ofNanos(nanos)) <= 0, "never more than the sender had");
    }
  }

  @Test
  void grpcFormatClampsToTheLargestValue() {
    assertEquals("99999999H", GrpcTimeoutHeader.format(Duration.ofSeconds(Long.MAX_VALUE)));
  }

  @ParameterizedTest
  @CsvSource({"0, 0", "287, 287", "' 42\t', 42", "9999999999, 9999999999", "0000000001, 1"})
  void connectParsesMilliseconds(String value, long millis) {
    assertEquals(Duration.ofMillis(millis), ConnectTimeoutHeader.parse(value));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "\t", "-1", "+5", "1.5", "250m", "12345678901", "１２", "5\u00a0", "1,2"})
  void connectRejectsMalformedValues(String value) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ConnectTimeoutHeader.parse(value));
    assertTrue(e.getMessage().contains("Connect-Timeout-Ms"), e.getMessage());
    assertQuoted(value, e.getMessage());
  }

  @ParameterizedTest(name = "{0} ns -> \"{1}\"")
  @CsvSource({
    "-5, 0",
    "999999, 0",
    "1000000, 1",
    "9999999999000000, 9999999999",
    "9223372036854775807, 9999999999"
  })
  void connectFormatsRoundingDownAndClamping(long nanos, String expected) {
    assertEquals(expected, ConnectTimeoutHeader.format(Duration.ofNanos(nanos)));
  }

  /** As DeadlineHeader's: a control character in a quoted value shows, and cannot end the line. */
  /**
   * Guard (passes on the code before it was written): the three formats take any Duration, down to
   * the bottom and up to the top of its range (a hostile caller's, or a foreign context's
   * remaining time passed on), and neither overflow nor throw.
   */
  @Test
  void formatsSaturateAtBothEndsOfDurationsRange() {
    Duration lowest = Duration.ofSeconds(Long.MIN_VALUE);
    Duration highest = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
    assertEquals("0n", GrpcTimeoutHeader.format(lowest));
    assertEquals("99999999H", GrpcTimeoutHeader.format(highest));
    assertEquals("0", ConnectTimeoutHeader.format(lowest));
    assertEquals("9999999999", ConnectTimeoutHeader.format(highest));
    assertEquals("0", DeadlineHeader.format(lowest));
    assertEquals("99999999", DeadlineHeader.format(highest));
  }

  @Test
  void malformedValuesAreQuotedWithControlCharactersEscaped() {
    IllegalArgumentException grpc =
        assertThrows(IllegalArgumentException.class, () -> GrpcTimeoutHeader.parse("5\u0085X"));
    assertTrue(grpc.getMessage().endsWith("got \"5\\u0085X\""), grpc.getMessage());
    IllegalArgumentException connect =
        assertThrows(IllegalArgumentException.class, () -> ConnectTimeoutHeader.parse("5\n0"));
    assertTrue(connect.getMessage().endsWith("got \"5\\u000A0\""), connect.getMessage());
  }

  @Test
  void nullsAreRejectedByName() {
    assertThrows(NullPointerException.class, () -> GrpcTimeoutHeader.parse(null));
    assertThrows(NullPointerException.class, () -> ConnectTimeoutHeader.parse(null));
    assertThrows(NullPointerException.class, () -> GrpcTimeoutHeader.format(null));
    assertThrows(NullPointerException.class, () -> ConnectTimeoutHeader.format(null));
  }
}
