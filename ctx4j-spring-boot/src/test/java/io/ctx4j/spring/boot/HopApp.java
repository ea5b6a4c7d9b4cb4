package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.context.annotation.Import;
import io.ctx4j.spring.boot.quickstart.QuoteController;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

/**
 * One service of the A -> B -> C chain: {@code GET /hop} records what it got, then calls the next
 * service ({@code hop.next}) with the auto-configured RestClient, or, as C, works until its context
 * ends. {@code ?ping=1} only warms the path up (connections, class loading).
 */
@SpringBootConfiguration
@EnableAutoConfiguration
@Import(QuoteController.class)
public class HopApp {

  @RestController
  static class HopController {
    private final String name;
    private final RestClient next;
    private final Hops hops;

    HopController(
        RestClient.Builder builder,
        Hops hops,
        @Value("${hop.name}") String name,
        @Value("${hop.next:}") String next,
        @Value("${hop.http2:false}") boolean http2) {
      this.name = name;
      this.hops = hops;
      if (http2) {
        // The JDK client over h2c: a cancelled exchange resets its HTTP/2 stream, which Jetty
        // reports to the next service's filter at once.
        builder =
            builder.requestFactory(
                new JdkClientHttpRequestFactory(
                    HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()));
      }
      this.next = next.isEmpty() ? null : builder.baseUrl(next).build();
    }

    @GetMapping("/hop")
    String hop(@RequestParam(name = "ping", defaultValue = "") String ping, HttpServletRequest request)
        throws InterruptedException {
      if (!ping.isEmpty()) {
        if (next != null) {
          next.get().uri("/hop?ping=1").retrieve().toBodilessEntity();
        }
        return "pong";
      }
      Context ctx = CurrentContext.get();
      Hops.Hop h = hops.begin(name, ctx, request.getProtocol());
      if (next != null) {
        try {
          next.get().uri("/hop").retrieve().toBodilessEntity();
        } catch (RuntimeException e) {
          h.downstreamFailure = e;
        }
      }
      // Every hop works until its own context ends: C is slow, and A and B go on after C's answer
      // (C's deadline is the earliest), so that each hop's context ends by its own deadline or its
      // caller's abort, never by a response completed first.
      ctx.await(Duration.ofSeconds(20));
      return name;
    }

    /** The deadline header as this service received it. */
    @GetMapping("/echo")
    String echo(HttpServletRequest request) {
      String v = request.getHeader("Ctx4j-Timeout-Ms");
      return v == null ? "none" : v;
    }

    /**
     * Waits for the test's release without any I/O (so that over HTTP/1.1 the server cannot see the
     * client leave), then writes and flushes until a write fails or the context ends.
     */
    @GetMapping("/hold")
    void hold(@RequestParam(name = "id") String id, HttpServletRequest request, HttpServletResponse response)
        throws Exception {
      Hops.Hop h = hops.begin(id, CurrentContext.get(), request.getProtocol());
      h.release.await(20, TimeUnit.SECONDS);
      stream(h, response);
    }

    /**
     * Sends the response's head at once and its body only once the test releases it, so that the
     * client has the response before its body. A fixed length: the connection can be reused.
     */
    @GetMapping("/late")
    void late(@RequestParam(name = "id") String id, HttpServletRequest request, HttpServletResponse response)
        throws Exception {
      Hops.Hop h = hops.begin(id, CurrentContext.get(), request.getProtocol());
      byte[] body = "late body".getBytes(StandardCharsets.US_ASCII);
      response.setContentType("text/plain");
      response.setContentLength(body.length);
      response.flushBuffer();
      if (h.release.await(20, TimeUnit.SECONDS)) {
        try {
          response.getOutputStream().write(body);
        } catch (IOException e) {
          // the client is gone
        }
      }
    }

    /**
     * Answers {@code size} bytes of {@link #slowBody} for {@code id}, with a fixed length, only once
     * the test releases it, then counts the hop's {@code sent} down: once the head and the whole
     * body are written, or, for a body over 32 KiB, its first 16 KiB, the rest written after: over
     * HTTP/2 a write may wait for the client to read, and the client's connection window, which it
     * tops up only once half of it is used, may be down to half its initial 64 KiB.
     */
    @GetMapping("/held")
    void held(
        @RequestParam(name = "id") String id,
        @RequestParam(name = "size") int size,
        HttpServletRequest request,
        HttpServletResponse response)
        throws Exception {
      Hops.Hop h = hops.begin(id, CurrentContext.get(), request.getProtocol());
      byte[] content = slowBody(id, size).getBytes(StandardCharsets.US_ASCII);
      if (!h.release.await(20, TimeUnit.SECONDS)) {
        return;
      }
      response.setContentType("text/plain");
      response.setContentLength(content.length);
      int first = content.length > 32 * 1024 ? 16 * 1024 : content.length;
      try {
        OutputStream out = response.getOutputStream();
        out.write(content, 0, first);
        if (first == content.length) {
          out.close(); // the stream's end sent now, not when the handler returns
        } else {
          out.flush();
        }
        h.sent.countDown();
        out.write(content, first, content.length - first);
      } catch (IOException e) {
        // the client is gone
      } finally {
        h.sent.countDown();
      }
    }

    /** Works until the test releases it or its context ends, whichever comes first. */
    @GetMapping("/work")
    String work(@RequestParam(name = "id") String id, HttpServletRequest request) throws InterruptedException {
      Context ctx = CurrentContext.get();
      Hops.Hop h = hops.begin(id, ctx, request.getProtocol());
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!ctx.isDone() && !h.release.await(5, TimeUnit.MILLISECONDS) && System.nanoTime() < end) {
        // a slice of the work
      }
      h.doneWhenFinished = ctx.isDone();
      return h.doneWhenFinished ? "cancelled" : "ok";
    }

    /**
     * Answers {@code size} bytes of {@link #slowBody} for {@code id} with a fixed length, after
     * {@code head} ms, its first half flushed at once and its second half {@code body} ms later
     * (each wait cut short when the request's context ends, as it does when the client leaves).
     * The body names the call, so that a client handing one call's body to another is seen.
     */
    @GetMapping("/slow")
    void slow(
        @RequestParam(name = "id") String id,
        @RequestParam(name = "head") int head,
        @RequestParam(name = "body") int body,
        @RequestParam(name = "size") int size,
        HttpServletResponse response)
        throws Exception {
      Context ctx = CurrentContext.get();
      byte[] content = slowBody(id, size).getBytes(StandardCharsets.US_ASCII);
      if (head > 0) {
        ctx.await(Duration.ofMillis(head));
      }
      response.setContentType("text/plain");
      response.setContentLength(content.length);
      try {
        OutputStream out = response.getOutputStream();
        out.write(content, 0, content.length / 2);
        out.flush();
        if (body > 0) {
          ctx.await(Duration.ofMillis(body));
        }
        out.write(content, content.length / 2, content.length - content.length / 2);
      } catch (IOException e) {
        // the client is gone
      }
    }

    /** Writes and flushes a chunk every 10 ms until a write fails or the context ends. */
    @GetMapping("/stream")
    void stream(@RequestParam(name = "id") String id, HttpServletRequest request, HttpServletResponse response)
        throws Exception {
      stream(hops.begin(id, CurrentContext.get(), request.getProtocol()), response);
    }

    private static void stream(Hops.Hop h, HttpServletResponse response) throws Exception {
      Context ctx = CurrentContext.get();
      response.setContentType("text/plain");
      OutputStream out = response.getOutputStream();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      try {
        while (!ctx.isDone() && System.nanoTime() < end) {
          out.write("chunk\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
          h.written++;
          ctx.await(Duration.ofMillis(10));
        }
      } catch (IOException e) {
        // the client is gone: the filter's response saw it and ended the context
      }
    }
  }

  /** The body of {@code /slow} for {@code id}: {@code id} and a space, repeated to {@code size} characters. */
  static String slowBody(String id, int size) {
    StringBuilder b = new StringBuilder(size + id.length() + 1);
    while (b.length() < size) {
      b.append(id).append(' ');
    }
    b.setLength(size);
    return b.toString();
  }
}
