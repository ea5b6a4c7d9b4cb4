package io.ctx4j.spring.boot.quickstart;

// snippet:start controller
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

@RestController
public class QuoteController {
  private final RestClient prices;

  public QuoteController(RestClient.Builder builder, @Value("${prices.url}") String pricesUrl) {
    this.prices = builder.baseUrl(pricesUrl).build();  // ctx4j's interceptor is on the builder
  }

  @GetMapping("/quote")
  public String quote() {
    Context ctx = CurrentContext.get();  // this request's context: the caller's deadline, ends with it
    String left = ctx.remaining().map(d -> d.toMillis() + " ms left").orElse("no deadline");
    // Sends Ctx4j-Timeout-Ms with the time left; gives up (CanceledException or
    // DeadlineExceededException) as soon as ctx ends: the caller left, or its time ran out.
    String price = prices.get().uri("/echo").retrieve().body(String.class);
    return left + ", the price service got " + price;
  }
}
// snippet:end controller
