package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Three Spring Boot services A -> B -> C in this JVM, on loopback, calling each other with the
 * auto-configured RestClient: on Tomcat (HTTP/1.1) and on Jetty (h2c, the JDK client over HTTP/2),
 * the shared {@link Chains}.
 */
@Timeout(180)
class ChainTest {
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @Test
  void deadlineShrinksAtEachHopOnTomcat() throws Exception {
    Chains.Chain c = Chains.get().tomcat;
    assertDeadlineShrinks(c.hops, c.url("A"));
  }

  @Test
  void deadlineShrinksAtEachHopOnJetty() throws Exception {
    Chains.Chain c = Chains.get().jetty;
    Chains.warm(c);
    assertDeadlineShrinks(c.hops, c.url("A"));
  }

  private void assertDeadlineShrinks(Hops hops, String a) throws Exception {
    hops.reset();
    long sent = System.nanoTime();
    http.send(
        HttpRequest.newBuilder(URI.create(a + "/hop")).header("Ctx4j-Timeout-Ms", "300").build(),
        BodyHandlers.discarding());
    Duration prev = Duration.ofMillis(300);
    for (String name : List.of("A", "B", "C")) {
      Hops.Hop h = hops.get(name);
      assertTrue(h.ended.await(30, TimeUnit.SECONDS), name + " never ended");
      assertNotNull(h.remainingAtEntry, name + " got no deadline");
      assertTrue(h.remainingAtEntry.compareTo(prev) < 0, name + " had " + h.remainingAtEntry + ", its caller " + prev);
      RequestCanceledException cause = (RequestCanceledException) h.cause;
      // A ends by its own deadline. B and C have earlier deadlines than their callers (the header
      // withholds DeadlineHeader.TRANSIT_ALLOWANCE), but on a loaded machine the caller's timer may
      // fire first and its abort (an HTTP/2 reset on Jetty) reach the callee before the callee's own
      // timer: either way the work stops.
      if (name.equals("A")) {
        assertEquals(Reason.DEADLINE_EXCEEDED, cause.reason(), name + ": " + cause);
      } else {
        assertTrue(cause.reason() == Reason.DEADLINE_EXCEEDED || cause.reason() == Reason.CLIENT_DISCONNECTED, name + ": " + cause);
      }
      System.out.printf("chain %s: %d ms left at entry, ended %d ms after the request was sent (%s)%n",
          name, h.remainingAtEntry.toMillis(), (h.endedNanos - sent) / 1_000_000, cause.getMessage());
      prev = h.remainingAtEntry;
    }
  }

  @Test
  void clientClosingItsSocketAtACancelsTheWorkInC() throws Exception {
    Chains.Chain jetty = Chains.get().jetty;
    Chains.warm(jetty);
    jetty.hops.reset();
    long closed;
    try (H2cClient client = H2cClient.get(java.net.URI.create(jetty.url("A")).getPort(), "/hop")) {
      assertTrue(jetty.hops.get("C").entered.await(30, TimeUnit.SECONDS), "the request never reached C");
      closed = System.nanoTime();
    }
    for (String name : List.of("A", "B", "C")) {
      Hops.Hop h = jetty.hops.get(name);
      assertTrue(h.ended.await(30, TimeUnit.SECONDS), name + " kept working after the client left");
      assertEquals("HTTP/2.0", h.protocol, name);
      assertEquals(null, h.remainingAtEntry, name + " had a deadline");
      RequestCanceledException cause = (RequestCanceledException) h.cause;
      assertEquals(Reason.CLIENT_DISCONNECTED, cause.reason(), name + ": " + cause);
      System.out.printf("disconnect %s: context ended %.1f ms after the client closed its socket (%s)%n",
          name, (h.endedNanos - closed) / 1e6, cause.getMessage());
    }
  }
}
