package io.ctx4j.bench;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The scheduler grpc-java's deadlines run on during one trial (see {@link Peers#grpcTimer()}).
 * Thread-safe as the executor is.
 */
@State(Scope.Benchmark)
public class GrpcTimer {
  /** The scheduler; set in the trial set-up. */
  public ScheduledThreadPoolExecutor timer;

  /** Starts the scheduler. */
  @Setup
  public void setup() {
    timer = Peers.grpcTimer();
  }

  /** Stops the scheduler. */
  @TearDown
  public void tearDown() {
    timer.shutdownNow();
  }
}
