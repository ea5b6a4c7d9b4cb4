/**
 * Structured groups of tasks under one context: Go's {@code golang.org/x/sync/errgroup} for Java.
 * Start with {@link io.ctx4j.taskgroup.TaskGroup}.
 */
package io.ctx4j.taskgroup;
