package io.ctx4j.bench.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader for JMH's {@code -rf json} output, so the report needs no library. Objects
 * become insertion-ordered {@link Map}s, arrays {@link List}s, numbers {@link Double}s. JMH writes
 * {@code "NaN"} for a missing error as a string; {@link #number} accepts that.
 *
 * <p>Not thread-safe per instance; {@link #parse} creates one per call.
 */
final class Json {
  private final String s;
  private int i;

  private Json(String s) {
    this.s = s;
  }

  /**
   * Parses a JSON document.
   *
   * @param text the document
   * @return the value: a map, list, string, double, boolean or {@code null}
   * @throws IllegalArgumentException if the text is not valid JSON, naming the offset
   */
  static Object parse(String text) {
    Json j = new Json(text);
    Object v = j.value();
    j.skipSpace();
    if (j.i != text.length()) {
      throw j.error("trailing characters");
    }
    return v;
  }

  /**
   * Reads a number that JMH may have written as a string ({@code "NaN"}, {@code "Infinity"}).
   *
   * @param v a parsed value
   * @return the number, or NaN if {@code v} is null or not numeric
   */
  static double number(Object v) {
    if (v instanceof Double) {
      return (Double) v;
    }
    if (v instanceof String) {
      try {
        return Double.parseDouble((String) v);
      } catch (NumberFormatException e) {
        return Double.NaN;
      }
    }
    return Double.NaN;
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException("bad JSON at offset " + i + ": " + what);
  }

  private void skipSpace() {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
      i++;
    }
  }

  private Object value() {
    skipSpace();
    if (i >= s.length()) {
      throw error("unexpected end");
    }
    char c = s.charAt(i);
    switch (c) {
      case '{':
        return object();
      case '[':
        return array();
      case '"':
        return string();
      case 't':
        return literal("true", Boolean.TRUE);
      case 'f':
        return literal("false", Boolean.FALSE);
      case 'n':
        return literal("null", null);
      default:
        return numberLiteral();
    }
  }

  private Object literal(String word, Object v) {
    if (!s.startsWith(word, i)) {
      throw error("expected " + word);
    }
    i += word.length();
    return v;
  }

  private Map<String, Object> object() {
    Map<String, Object> m = new LinkedHashMap<>();
    i++;
    skipSpace();
    if (peek() == '}') {
      i++;
      return m;
    }
    for (; ; ) {
      skipSpace();
      String k = string();
      skipSpace();
      expect(':');
      m.put(k, value());
      skipSpace();
      if (peek() == ',') {
        i++;
      } else {
        expect('}');
        return m;
      }
    }
  }

  private List<Object> array() {
    List<Object> l = new ArrayList<>();
    i++;
    skipSpace();
    if (peek() == ']') {
      i++;
      return l;
    }
    for (; ; ) {
      l.add(value());
      skipSpace();
      if (peek() == ',') {
        i++;
      } else {
        expect(']');
        return l;
      }
    }
  }

  private char peek() {
    if (i >= s.length()) {
      throw error("unexpected end");
    }
    return s.charAt(i);
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    i++;
  }

  private String string() {
    expect('"');
    StringBuilder b = new StringBuilder();
    for (; ; ) {
      char c = peek();
      i++;
      if (c == '"') {
        return b.toString();
      }
      if (c != '\\') {
        b.append(c);
        continue;
      }
      char e = peek();
      i++;
      switch (e) {
        case 'n':
          b.append('\n');
          break;
        case 't':
          b.append('\t');
          break;
        case 'r':
          b.append('\r');
          break;
        case 'b':
          b.append('\b');
          break;
        case 'f':
          b.append('\f');
          break;
        case 'u':
          if (i + 4 > s.length()) {
            throw error("short \\u escape");
          }
          b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
          i += 4;
          break;
        default:
          b.append(e); // \" \\ \/
      }
    }
  }

  private Double numberLiteral() {
    int start = i;
    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
      i++;
    }
    if (start == i) {
      throw error("unexpected character '" + s.charAt(i) + "'");
    }
    return Double.valueOf(s.substring(start, i));
  }
}
