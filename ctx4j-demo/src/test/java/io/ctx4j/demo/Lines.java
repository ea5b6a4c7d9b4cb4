package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A UTF-8 print stream whose lines a test receives one by one as they are completed, each stamped
 * with {@link System#nanoTime()} at the moment its newline was written.
 */
final class Lines extends OutputStream {
  /** How long a test waits for a line that should come; only a hang reaches it. */
  static final long PATIENCE_SECONDS = 20;

  record Line(String text, long nanos) {}

  private final ByteArrayOutputStream current = new ByteArrayOutputStream();
  private final BlockingQueue<Line> completed = new LinkedBlockingQueue<>();
  private final List<String> seen = new ArrayList<>();
  private final PrintStream stream = new PrintStream(this, true, StandardCharsets.UTF_8);

  PrintStream stream() {
    return stream;
  }

  @Override
  public synchronized void write(int b) {
    if (b == '\n') {
      completed.add(new Line(current.toString(StandardCharsets.UTF_8), System.nanoTime()));
      current.reset();
    } else {
      current.write(b);
    }
  }

  /** Waits for the next line and returns it; fails the test if none comes. */
  Line next() throws InterruptedException {
    Line line = completed.poll(PATIENCE_SECONDS, TimeUnit.SECONDS);
    if (line == null) {
      fail("no further line within " + PATIENCE_SECONDS + " s; lines so far: " + seen);
    }
    seen.add(line.text());
    return line;
  }

  /** Waits for the next lines and checks that they are exactly {@code expected}, in order. */
  Line expect(String... expected) throws InterruptedException {
    Line last = null;
    for (String e : expected) {
      last = next();
      assertEquals(e, last.text(), "line " + seen.size() + "; lines so far: " + seen);
    }
    return last;
  }

  /** Returns the lines completed and not yet taken, without waiting. */
  List<String> rest() {
    List<Line> left = new ArrayList<>();
    completed.drainTo(left);
    return left.stream().map(Line::text).toList();
  }
}
