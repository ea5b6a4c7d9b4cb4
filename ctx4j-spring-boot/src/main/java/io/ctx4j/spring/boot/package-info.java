/**
 * Spring Boot 4.0 auto-configuration for ctx4j: the servlet filter, RestClient and WebClient
 * integrations, a context-carrying {@code TaskDecorator} and a shutdown context driven by Spring's
 * lifecycle. See the module README.
 */
package io.ctx4j.spring.boot;
