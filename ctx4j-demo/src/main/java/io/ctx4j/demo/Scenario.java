package io.ctx4j.demo;

import java.io.PrintStream;
import java.util.Objects;

/**
 * One runnable example of the demo, selected on the command line by its {@link #name()}.
 *
 * <p>A scenario writes everything it shows to the stream it is given, never to {@link System#out},
 * so that tests can capture it; it takes its clock from the {@link DemoTime} it was built with, so
 * that tests can run it without waiting. It conventionally starts with a header line such as {@code
 * == 3. withCancel ==}.
 *
 * <p>Implementations need not be thread-safe: the demo runs one scenario at a time.
 */
public interface Scenario {

  /**
   * Returns the name that selects this scenario on the command line; unique within the registry.
   *
   * @return a short name without spaces, e.g. {@code withCancel}
   */
  String name();

  /**
   * Returns a one-line description, shown by {@code --list}.
   *
   * @return the description
   */
  String description();

  /**
   * Runs the scenario to its end, printing to {@code out}.
   *
   * @param out where to print; not closed
   * @throws Exception whatever the example lets escape; {@link InterruptedException} if the thread is
   *     interrupted while the example waits
   */
  void run(PrintStream out) throws Exception;

  /** The body of a scenario made by {@link #of}: the same contract as {@link Scenario#run}. */
  @FunctionalInterface
  interface Body {
    /**
     * Runs the body.
     *
     * @param out where to print
     * @throws Exception whatever the example lets escape
     */
    void run(PrintStream out) throws Exception;
  }

  /**
   * Makes a scenario from its parts.
   *
   * @param name the command-line name
   * @param description the one-line description
   * @param body what {@link #run} does
   * @return a new scenario
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code name} is blank or contains whitespace
   */
  static Scenario of(String name, String description, Body body) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(description, "description");
    Objects.requireNonNull(body, "body");
    if (name.isBlank() || name.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("name must be one word: \"" + name + "\"");
    }
    return new Scenario() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String description() {
        return description;
      }

      @Override
      public void run(PrintStream out) throws Exception {
        body.run(Objects.requireNonNull(out, "out"));
      }

      @Override
      public String toString() {
        return "Scenario(" + name + ")";
      }
    };
  }
}
