// The live loss curve of teach mode: one point per training step, drawn as the steps come in. The losses are
// also on the canvas as data-losses (JSON) and data-points, for the page's tests.

export class LossCurve {
  private losses: number[] = [];
  private steps = 1;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.draw();
  }

  /** A new run of `steps` steps; `keep` carries on the curve of the steps before (the same head trains on). */
  start(steps: number, keep: boolean): void {
    if (!keep) this.losses = [];
    this.steps = this.losses.length + steps;
    this.draw();
  }

  add(loss: number): void {
    this.losses.push(loss);
    this.draw();
  }

  clear(): void {
    this.losses = [];
    this.steps = 1;
    this.draw();
  }

  get points(): readonly number[] {
    return this.losses;
  }

  private draw(): void {
    const { canvas, losses } = this;
    canvas.dataset.points = String(losses.length);
    canvas.dataset.losses = JSON.stringify(losses);
    const ctx = canvas.getContext('2d')!;
    const { width, height } = canvas;
    const pad = { left: 34, right: 8, top: 8, bottom: 18 };
    ctx.clearRect(0, 0, width, height);
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#667085';
    ctx.strokeStyle = '#e3e6eb';
    ctx.lineWidth = 1;
    ctx.strokeRect(pad.left + 0.5, pad.top + 0.5, width - pad.left - pad.right - 1, height - pad.top - pad.bottom - 1);
    if (losses.length === 0) {
      ctx.fillText('loss per step appears here', pad.left + 8, height / 2);
      return;
    }
    const top = Math.max(...losses) * 1.05 || 1;
    ctx.fillText(top.toFixed(2), 2, pad.top + 8);
    ctx.fillText('0', 2, height - pad.bottom);
    ctx.fillText(`step ${losses.length} / ${this.steps} · loss ${losses[losses.length - 1]!.toFixed(4)}`, pad.left + 4, height - 4);
    const x = (i: number) => pad.left + ((width - pad.left - pad.right) * (i + 1)) / Math.max(1, this.steps);
    const y = (v: number) => pad.top + (height - pad.top - pad.bottom) * (1 - v / top);
    ctx.strokeStyle = '#4f46e5';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    losses.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
    ctx.stroke();
    if (losses.length === 1) ctx.fillRect(x(0) - 1.5, y(losses[0]!) - 1.5, 3, 3);
  }
}
