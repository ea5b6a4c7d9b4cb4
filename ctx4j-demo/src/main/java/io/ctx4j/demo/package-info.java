/**
 * Runnable examples of ctx4j: the Go {@code context} tutorial, example by example, printing what
 * the Go programs print.
 *
 * <p>{@link io.ctx4j.demo.Demo} is the entry point; {@link io.ctx4j.demo.Scenarios} is the one place
 * where scenarios are registered; {@link io.ctx4j.demo.DemoTime} is the clock they all use, real by
 * default and manual in tests.
 */
package io.ctx4j.demo;
