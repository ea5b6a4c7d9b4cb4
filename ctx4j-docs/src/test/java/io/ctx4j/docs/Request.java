package io.ctx4j.docs;

/** The quick start's request. */
record Request(String user, String query) {}
