package io.ctx4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link GoDuration}, which prints the time left in a deadline's {@code toString}, against Go. */
class GoDurationTest {
  /** The expected strings are Go's own, from time.Duration's String tests. */
  @ParameterizedTest
  @CsvSource({
    "0s, 0",
    "1ns, 1",
    "1.1\u00b5s, 1100",
    "2.2ms, 2200000",
    "3.3s, 3300000000",
    "4m5s, 245000000000",
    "4m5.001s, 245001000000",
    "5h6m7.001s, 18367001000000",
    "8m0.000000001s, 480000000001",
    "2562047h47m16.854775807s, 9223372036854775807",
    "-1ns, -1",
    "-3.3s, -3300000000",
    "-2562047h47m16.854775808s, -9223372036854775808",
  })
  void durationsFormatLikeGo(String expected, long nanos) {
    assertEquals(expected, GoDuration.format(nanos));
  }
}
