/**
 * Canaries: deliberately broken code under the same kind of test as the real ones, which jcstress
 * must report as FAILED. They prove the harness can see the bugs the real tests guard against, and
 * are excluded from the default run ({@code run-jcstress.sh --canary} runs them and expects failure).
 */
package io.ctx4j.jcstress.canary;
