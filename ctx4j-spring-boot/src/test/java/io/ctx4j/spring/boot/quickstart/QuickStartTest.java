package io.ctx4j.spring.boot.quickstart;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.spring.boot.Chains;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The README's controller, served by the Tomcat chain's service A, calling B's /echo. */
@Timeout(120)
class QuickStartTest {
  @Test
  void theControllerSeesTheDeadlineAndPassesOnLess() throws Exception {
    String a = Chains.get().tomcat.url("A");
    String body = HttpClient.newHttpClient()
        .send(HttpRequest.newBuilder(URI.create(a + "/quote")).header("Ctx4j-Timeout-Ms", "5000").build(), BodyHandlers.ofString())
        .body();
    Matcher m = Pattern.compile("(\\d+) ms left, the price service got (\\d+)").matcher(body);
    assertTrue(m.matches(), body);
    long left = Long.parseLong(m.group(1));
    long sent = Long.parseLong(m.group(2));
    assertTrue(left <= 5000 && sent < left, body);
  }
}
