package io.ctx4j.docs;

import java.util.concurrent.CompletableFuture;

/** The quick start's asynchronous client. */
interface Backend {
  CompletableFuture<String> fetchAsync(Request request);
}
