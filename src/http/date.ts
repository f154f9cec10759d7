/**
 * HTTP dates (pure), RFC 9110 §5.6.7: the preferred IMF-fixdate and the two obsolete forms a
 * recipient must accept (RFC 850 and asctime), nothing else. `Date.parse` accepts far more ("UTC"
 * for "GMT", missing commas, dashes, one-digit hours...), which would turn an invalid `Expires`
 * into a future date instead of "already expired" (RFC 9111 §5.3).
 */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";

/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** asctime: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

function build(year: number, month: string, day: number, h: string, m: string, s: string): number | null {
  const mon = MONTHS.indexOf(month);
  const hh = Number(h);
  const mm = Number(m);
  const ss = Number(s);
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return null;
  const t = Date.UTC(year, mon, day, hh, mm, Math.min(ss, 59));
  // Reject dates that roll over (31 Feb): the parts must survive the round trip.
  return new Date(t).getUTCDate() === day ? t : null;
}

/** ms since the epoch, or null when `value` is not an HTTP date. */
export function parseHttpDate(value: string | null | undefined): number | null {
  if (!value) return null;
  const v = value.trim();
  let m = IMF.exec(v);
  if (m) return build(Number(m[4]), m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  m = RFC850.exec(v);
  if (m) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(m[4]);
    const now = new Date().getUTCFullYear();
    let year = 2000 + yy;
    if (year > now + 50) year -= 100;
    return build(year, m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  }
  m = ASCTIME.exec(v);
  if (m) return build(Number(m[7]), m[2]!, Number(m[3]!.trim()), m[4]!, m[5]!, m[6]!);
  return null;
}
