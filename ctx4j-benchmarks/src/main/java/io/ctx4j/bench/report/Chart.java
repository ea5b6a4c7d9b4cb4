package io.ctx4j.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Draws one JDK's ratio chart as PNG with plain AWT in headless mode (no network, no fonts beyond the
 * JDK's): one horizontal bar per row from 1.0 to ctx4j's ratio to the best peer, on a log scale (a
 * 10x win and a 10x loss look equally long), with the ratio's 95% interval as a whisker; green for a
 * win, grey for a tie or a row without a call, red for a loss; a vertical line at 1.0.
 * Single-threaded helper.
 */
final class Chart {
  private static final int WIDTH = 1100;
  private static final int LEFT = 380;
  private static final int RIGHT = 70;
  private static final int TOP = 50;
  private static final int ROW = 20;
  private static final int BOTTOM = 40;

  private Chart() {}

  /** The x of a ratio on the log axis, or of 1.0 when the ratio is not a positive number. */
  private static int xOf(double r, double lo, double hi, int plotW) {
    double v = Double.isFinite(r) && r > 0 ? Math.log10(r) : 0;
    return LEFT + (int) Math.round((v - lo) / (hi - lo) * plotW);
  }

  /**
   * Writes the chart as PNG.
   *
   * @param ratios row name to ratio (finite, positive point), in display order
   * @param title the line printed on top
   * @param file where to write
   * @throws IOException if the file cannot be written
   */
  static void write(Map<String, Stats.Ratio> ratios, String title, Path file) throws IOException {
    System.setProperty("java.awt.headless", "true");
    int n = Math.max(1, ratios.size());
    int height = TOP + n * ROW + BOTTOM;
    BufferedImage img = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, height);
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
      g.drawString(title, 10, 20);

      double lo = -1;
      double hi = 1;
      for (Stats.Ratio r : ratios.values()) {
        for (double x : new double[] {r.point, r.lo, r.hi}) {
          if (Double.isFinite(x) && x > 0) {
            lo = Math.min(lo, Math.floor(Math.log10(x)));
            hi = Math.max(hi, Math.ceil(Math.log10(x)));
          }
        }
      }
      int plotW = WIDTH - LEFT - RIGHT;
      int plotBottom = TOP + n * ROW;

      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
      FontMetrics fm = g.getFontMetrics();
      for (int e = (int) lo; e <= (int) hi; e++) {
        int x = LEFT + (int) Math.round((e - lo) / (hi - lo) * plotW);
        g.setColor(new Color(225, 225, 225));
        g.drawLine(x, TOP - 5, x, plotBottom);
        g.setColor(Color.DARK_GRAY);
        String label = e >= 0 ? String.format(Locale.ROOT, "%.0f", Math.pow(10, e)) : String.format(Locale.ROOT, "%." + (-e) + "f", Math.pow(10, e));
        g.drawString(label, x - fm.stringWidth(label) / 2, plotBottom + 15);
      }

      int y = TOP;
      int one = LEFT + (int) Math.round((0 - lo) / (hi - lo) * plotW);
      for (Map.Entry<String, Stats.Ratio> e : ratios.entrySet()) {
        Stats.Ratio ratio = e.getValue();
        double r = ratio.point;
        int x = LEFT + (int) Math.round((Math.log10(r) - lo) / (hi - lo) * plotW);
        g.setColor(
            ratio.verdict == Stats.Verdict.WIN
                ? new Color(60, 160, 80)
                : ratio.verdict == Stats.Verdict.LOSS ? new Color(200, 60, 50) : new Color(150, 150, 150));
        int from = Math.min(one, x);
        g.fillRect(from, y + 3, Math.max(1, Math.abs(x - one)), ROW - 6);
        g.setColor(Color.BLACK);
        if (Double.isFinite(ratio.lo) && ratio.lo > 0 && ratio.hi > ratio.lo) {
          int xl = LEFT + (int) Math.round((Math.log10(ratio.lo) - lo) / (hi - lo) * plotW);
          int xh = LEFT + (int) Math.round((Math.log10(ratio.hi) - lo) / (hi - lo) * plotW);
          int mid = y + ROW / 2;
          g.drawLine(xl, mid, xh, mid);
          g.drawLine(xl, mid - 4, xl, mid + 4);
          g.drawLine(xh, mid - 4, xh, mid + 4);
        }
        String name = e.getKey();
        while (fm.stringWidth(name) > LEFT - 15 && name.length() > 4) {
          name = name.substring(0, name.length() - 2);
        }
        g.drawString(name, LEFT - 8 - fm.stringWidth(name), y + ROW - 6);
        String v = String.format(Locale.ROOT, "%.2f", r);
        int tx = r < 1 ? Math.min(from, xOf(ratio.lo, lo, hi, plotW)) - fm.stringWidth(v) - 4 : Math.max(x, xOf(ratio.hi, lo, hi, plotW)) + 4;
        g.drawString(v, tx, y + ROW - 6);
        y += ROW;
      }

      g.setColor(Color.BLACK);
      g.setStroke(new BasicStroke(2f));
      g.drawLine(one, TOP - 5, one, plotBottom);
      g.drawString("1.0", one + 3, TOP - 8);
    } finally {
      g.dispose();
    }
    if (!ImageIO.write(img, "png", file.toFile())) {
      throw new IOException("no PNG writer available");
    }
  }
}
