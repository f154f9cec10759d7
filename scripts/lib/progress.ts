/**
 * Progress on stderr: a bar redrawn in place when stderr is a terminal, one plain line per finished
 * item otherwise (CI logs, pipes), so stdout stays clean for the table or --json.
 */

export interface Progress {
  /** One item finished; `line` describes it (printed as is when stderr is not a terminal). */
  tick(line: string): void;
  /** A message that must stay visible (warnings): printed above the bar. */
  note(line: string): void;
  /** Remove the bar. */
  done(): void;
}

export function createProgress(total: number, label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  let done = 0;
  const started = Date.now();
  const tty = stream.isTTY === true && total > 0;
  const counter = (n: number) => `${String(n).padStart(String(total).length)}/${total}`;
  let last = "";

  const draw = () => {
    const cols = stream.columns || 80;
    const barWidth = Math.max(10, Math.min(30, cols - 60));
    const filled = Math.round((barWidth * done) / total);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const head = `${label} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${counter(done)} ${secs}s `;
    const tail = last.length > cols - head.length - 1 ? `${last.slice(0, Math.max(0, cols - head.length - 2))}…` : last;
    stream.write(`\r\x1b[2K${head}${tail}`);
  };
  const clear = () => stream.write("\r\x1b[2K");

  if (tty) draw();
  return {
    tick(line) {
      done++;
      if (tty) {
        last = line;
        draw();
      } else {
        stream.write(`${label} ${counter(done)} ${line}\n`);
      }
    },
    note(line) {
      if (tty) clear();
      stream.write(`${line}\n`);
      if (tty) draw();
    },
    done() {
      if (tty) clear();
    },
  };
}
