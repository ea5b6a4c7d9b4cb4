package io.ctx4j.servlet;

import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;

/**
 * An application's {@link AsyncListener} that acts on a timeout only ({@code AsyncListener} has no
 * default methods): the tests' stand-in for the listener an async handler adds after the filter's.
 */
abstract class TimeoutListener implements AsyncListener {
  @Override
  public void onComplete(AsyncEvent e) {}

  @Override
  public void onError(AsyncEvent e) {}

  @Override
  public void onStartAsync(AsyncEvent e) {}
}
