package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.ServletResponseWrapper;

/**
 * Walks through the wrappers of a request or a response. Every walk is bounded by {@link
 * #MAX_DEPTH}: a wrapper chain is finite, but a broken wrapper may return itself, or one of the
 * wrappers in front of it.
 */
final class Wrappers {
  /** How many wrappers a walk goes through at most. */
  static final int MAX_DEPTH = 64;

  private Wrappers() {}

  /** What lies beneath {@code request}'s wrappers (after at most {@link #MAX_DEPTH} of them). */
  static ServletRequest innermost(ServletRequest request) {
    ServletRequest r = request;
    for (int i = 0; i < MAX_DEPTH && r instanceof ServletRequestWrapper; i++) {
      r = ((ServletRequestWrapper) r).getRequest();
    }
    return r;
  }

  /** What lies beneath {@code response}'s wrappers (after at most {@link #MAX_DEPTH} of them). */
  static ServletResponse innermost(ServletResponse response) {
    ServletResponse r = response;
    for (int i = 0; i < MAX_DEPTH && r instanceof ServletResponseWrapper; i++) {
      r = ((ServletResponseWrapper) r).getResponse();
    }
    return r;
  }
}
