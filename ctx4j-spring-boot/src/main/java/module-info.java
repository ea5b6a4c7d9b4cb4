/**
 * ctx4j-spring-boot: Spring Boot 4.0 auto-configuration for ctx4j. Start with the module's README;
 * the auto-configurations are listed in {@code
 * META-INF/spring/org.springframework.boot.autoconfigure.AutoConfiguration.imports}.
 *
 * <p>Spring's jars are automatic modules. What every application has (Spring Boot, its
 * auto-configuration, the context, beans and core) is required; the RestClient, WebClient,
 * Reactor, Apache HttpClient and Jetty client pieces are optional ({@code requires static}), as
 * they are in the POM: each auto-configuration is guarded by {@code @ConditionalOnClass} and loads
 * its classes only when they are there.
 */
// Spring's jars are automatic modules, and their types are in this module's API.
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.ctx4j.spring.boot {
  requires transitive io.ctx4j;
  // The request context is CurrentContext.get(); RequestCanceledException is the cause it ends with.
  requires transitive io.ctx4j.concurrent;
  requires transitive io.ctx4j.servlet;
  requires io.ctx4j.http;

  // ContextTaskDecorator (core), ShutdownContext (context), the auto-configurations' bean methods
  // (beans, boot: FilterRegistrationBean, ConfigurationProperties; boot.autoconfigure: conditions).
  requires transitive spring.core;
  requires transitive spring.beans;
  requires transitive spring.context;
  requires transitive spring.boot;
  requires transitive spring.boot.autoconfigure;
  // ShutdownContext recognises itself behind a Spring AOP proxy (spring.context requires it anyway).
  requires spring.aop;
  // The warning of ctx4j.servlet.* set in a reactive application: Spring's own logging API.
  requires org.apache.commons.logging;
  // Optional: the RestClient interceptor (spring.web, spring.boot.restclient), the WebClient filter
  // (spring.webflux, reactor.core, spring.boot.webclient).
  requires static transitive spring.web;
  requires static transitive spring.webflux;
  requires static transitive reactor.core;
  requires static org.reactivestreams;
  requires static transitive spring.boot.restclient;
  requires static transitive spring.boot.webclient;
  // Optional: Apache HttpClient 5 behind RestClient gets ctx4j-httpclient5's handlers.
  requires static io.ctx4j.httpclient5;
  requires static org.apache.httpcomponents.client5.httpclient5;
  requires static spring.boot.http.client;
  // Optional: Jetty's HttpClient behind RestClient gets ContextJettyHttpClient's request listener
  // (its HttpClient is in that class's API).
  requires static transitive org.eclipse.jetty.client;

  // Optional: Reactor Netty's HttpClient behind RestClient gets ContextReactorHttpClient's handler
  // (its HttpClient is in that class's API).
  requires static transitive reactor.netty.http;
  requires static reactor.netty.core;
  requires static io.netty.transport;
  requires static io.netty.codec.http;
  requires static io.netty.common;

  exports io.ctx4j.spring.boot;
  // Spring instantiates the auto-configurations and binds Ctx4jProperties reflectively.
  opens io.ctx4j.spring.boot to spring.core, spring.beans, spring.context, spring.boot;
}
