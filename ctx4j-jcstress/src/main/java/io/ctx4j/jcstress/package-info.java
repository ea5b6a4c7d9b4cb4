/**
 * jcstress tests of ctx4j: every race between cancellation and the other operations on a context,
 * checked under the Java memory model on every compilation mode jcstress tries.
 *
 * <p>Each test is a {@code @State} class whose actors race on a fresh context and whose arbiter (or
 * the actors themselves) record what was observed; the {@code @Outcome}s list every acceptable
 * result and forbid the rest. Tests that wait use {@code Mode.Termination}. Run them with {@code
 * ctx4j-jcstress/run-jcstress.sh}; they are never run by Surefire.
 */
package io.ctx4j.jcstress;
