package io.ctx4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.grpc.GrpcContexts;
import io.ctx4j.grpc.LoopbackAccess;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Completed calls leave no registration behind on long-lived contexts, on either side. In package
 * io.ctx4j for CancelCtx's package-private registrationCount(), the exact structural check.
 */
class GrpcRegistrationLeakTest {
  private static final int CALLS = 50;

  @Test
  void completedCallsReleaseTheirRegistrationsOnBothSides() throws Exception {
    CancelCtx serverRoot = (CancelCtx) Context.withCancel(Context.background());
    CancelCtx clientParent =
        (CancelCtx) Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    CountDownLatch handlerContextsEnded = new CountDownLatch(CALLS);
    try (LoopbackAccess.Server s =
        LoopbackAccess.start(
            serverRoot,
            (req, resp) -> {
              GrpcContexts.current().onDone(handlerContextsEnded::countDown);
              resp.onNext(req);
              resp.onCompleted();
            })) {
      ManagedChannel channel = s.channel();
      for (int i = 0; i < CALLS; i++) {
        assertEquals(
            "x" + i,
            ClientCalls.blockingUnaryCall(
                channel, LoopbackAccess.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, clientParent), "x" + i));
      }
      assertEquals(0, clientParent.registrationCount(), "client-side bridges left registered");
      assertTrue(handlerContextsEnded.await(10, TimeUnit.SECONDS), "handler contexts outlived calls");
      assertEquals(0, serverRoot.registrationCount(), "handler contexts left on the server root");
    } finally {
      clientParent.cancel();
      serverRoot.cancel();
    }
  }
}
