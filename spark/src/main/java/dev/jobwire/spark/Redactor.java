package dev.jobwire.spark;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Removes secrets from text before it is printed: every registered secret value (passwords,
 * connection strings) and the password part of any URL's user-info ({@code scheme://user:pw@}).
 * Thread-safe.
 */
public final class Redactor {
  static final String MASK = "***";
  private static final Pattern URL_USER_INFO = Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://[^/\\s:@]*):[^@\\s/]*@");
  private final List<String> secrets = new ArrayList<>();

  /** Registers a value that must never be printed; null and very short values (under 3 characters) are ignored. */
  public synchronized void add(String secret) {
    if (secret == null || secret.length() < 3 || secrets.contains(secret)) return;
    secrets.add(secret);
    // Longest first, so a secret that contains another is masked whole.
    secrets.sort(Comparator.comparingInt(String::length).reversed());
  }

  public synchronized String redact(String text) {
    if (text == null) return null;
    String out = text;
    for (String s : secrets) out = out.replace(s, MASK);
    return URL_USER_INFO.matcher(out).replaceAll("$1:" + MASK + "@");
  }
}
