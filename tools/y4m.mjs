// A Y4M video (what chromium's --use-file-for-fake-video-capture reads) made from a PNG: the photo as
// every frame, RGB -> YCbCr BT.601 limited range, 4:2:0 (C420jpeg: chroma sited between the luma samples).
import { writeFileSync } from 'node:fs';

// Shared by the camera test (test/apps) and the camera benchmark (bench/camera-bench.mjs).
/**
 * @param {{ width: number, height: number, data: Uint8Array }} png decoded RGBA pixels (pngjs's PNG.sync.read)
 * @param {string} y4mPath
 * @param {number} frames how many frames the file holds (chromium loops it)
 * @param {number} fps the frame rate the fake camera plays it at
 * @returns {{ width: number, height: number }}
 */
export function rgbaToY4m(png, y4mPath, frames = 30, fps = 30) {
  // Even sizes for 4:2:0.
  const width = png.width & ~1;
  const height = png.height & ~1;
  const px = (x, y, c) => png.data[(y * png.width + x) * 4 + c];
  const Y = Buffer.alloc(width * height);
  const U = Buffer.alloc((width / 2) * (height / 2));
  const V = Buffer.alloc((width / 2) * (height / 2));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = [px(x, y, 0), px(x, y, 1), px(x, y, 2)];
      Y[y * width + x] = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    }
  }
  for (let y = 0; y < height / 2; y++) {
    for (let x = 0; x < width / 2; x++) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        r += px(2 * x + dx, 2 * y + dy, 0) / 4;
        g += px(2 * x + dx, 2 * y + dy, 1) / 4;
        b += px(2 * x + dx, 2 * y + dy, 2) / 4;
      }
      U[y * (width / 2) + x] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
      V[y * (width / 2) + x] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`, 'ascii');
  const frame = Buffer.concat([Buffer.from('FRAME\n', 'ascii'), Y, U, V]);
  writeFileSync(y4mPath, Buffer.concat([header, ...Array.from({ length: frames }, () => frame)]));
  return { width, height };
}
