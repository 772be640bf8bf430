// Scribbles on skimage's astronaut.png (512 x 512), in image pixels, for teach mode: what a person would
// paint to separate the astronaut (with her helmet, as MediaPipe's selfie mask has it) from the
// background. Used by segment-web-teach.node.test.ts (as pointer strokes on the page's canvas) and by
// measure-teach.mjs (painted into a ScribbleMap directly). Each stroke: [x0, y0, x1, y1].
export const ASTRONAUT_STROKES = {
  /** class 0 */
  background: [
    [15, 20, 15, 290], // the flag, left edge
    [60, 15, 470, 15], // the wall above her head
    [115, 40, 120, 150], // the wall left of her face
    [335, 60, 340, 250], // the wall between her and the shuttle
    [400, 100, 400, 240], // the shuttle model
    [385, 300, 500, 300], // the dark stand on the right
  ],
  /** class 1 */
  person: [
    [225, 45, 225, 170], // hair and face
    [120, 330, 330, 330], // the suit across the chest
    [80, 300, 90, 480], // her right arm
    [60, 460, 230, 470], // the suit, bottom
    [330, 420, 460, 420], // the helmet
  ],
  /** A background stroke painted over her face by mistake; the eraser then removes it. */
  mistake: [200, 110, 250, 110],
  eraser: [195, 110, 255, 110],
};
