import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(done: number, detail?: string): void;
  stop(): void;
}

/**
 * Progress of long work: a bar with count, rate and time left on a terminal; plain lines
 * (at most one every 2 s) otherwise, so CI logs stay readable.
 */
export function progress(
  label: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  const started = Date.now();
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {rate}/s eta {eta_formatted} {detail}`,
        stream,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0, detail: '' });
    return {
      update: (done, detail = '') => bar.update(Math.min(done, total), { rate: rate(done, started), detail }),
      stop: () => bar.stop(),
    };
  }
  let lastLine = 0;
  const line = (done: number, detail: string) => {
    const perSecond = rate(done, started);
    const left = perSecond > 0 ? Math.max(0, Math.round((total - done) / perSecond)) : '?';
    stream.write(
      `${label}: ${done}/${total} (${perSecond}/s, ~${left}s left)${detail ? ` ${detail}` : ''}\n`,
    );
  };
  return {
    update(done, detail = '') {
      if (Date.now() - lastLine < 2000) return;
      lastLine = Date.now();
      line(done, detail);
    },
    stop: () => line(total, 'done'),
  };
}

function rate(done: number, started: number): number {
  const seconds = (Date.now() - started) / 1000;
  return seconds > 0 ? Math.round(done / seconds) : 0;
}
