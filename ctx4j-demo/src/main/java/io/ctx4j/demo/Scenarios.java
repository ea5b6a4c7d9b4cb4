package io.ctx4j.demo;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The registry of the demo: every scenario the command line can name, in the order {@code --list}
 * shows them. To add scenarios, add one line to {@link #registry(DemoTime)}.
 *
 * <p>Not instantiable; each call builds a fresh, immutable map.
 */
public final class Scenarios {
  /** What {@link Demo} runs when given no scenario name. */
  public static final String DEFAULT = "seed";

  private Scenarios() {}

  /**
   * Builds the registry, every scenario using {@code time} as its clock.
   *
   * @param time the clock
   * @return an immutable map from {@link Scenario#name()} to scenario, in listing order
   * @throws NullPointerException if {@code time} is null
   * @throws IllegalStateException if two scenarios share a name
   */
  public static Map<String, Scenario> registry(DemoTime time) {
    Objects.requireNonNull(time, "time");
    Map<String, Scenario> map = new LinkedHashMap<>();
    add(map, SeedExamples.seed(time));
    SeedExamples.all(time).forEach(s -> add(map, s));
    IntegrationExamples.all(time).forEach(s -> add(map, s));
    CrossServiceExamples.all(time).forEach(s -> add(map, s));
    SpringChainExample.all(time).forEach(s -> add(map, s));
    TaskGroupExamples.all(time).forEach(s -> add(map, s));
    // Add further scenarios here, e.g.: OtherExamples.all(time).forEach(s -> add(map, s));
    return Collections.unmodifiableMap(map);
  }

  private static void add(Map<String, Scenario> map, Scenario s) {
    Scenario old = map.putIfAbsent(s.name(), s);
    if (old != null) {
      throw new IllegalStateException("two scenarios are named " + s.name());
    }
  }
}
