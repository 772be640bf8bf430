//! Shapes of a convolution: what the user asked for (`ConvShape`), and what it becomes once an input size
//! is known (`Geometry`: pads resolved, output size computed, everything checked).

use crate::status::Status;

/// How the spatial borders are padded, as in ONNX `Conv` (`pads` / `auto_pad`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `[top, left, bottom, right]`, asymmetric allowed.
    Explicit([usize; 4]),
    /// Output size `ceil(in / stride)`; an odd total pad puts the extra row/column at the end.
    SameUpper,
    /// As `SameUpper`, but the extra row/column goes at the beginning.
    SameLower,
    /// No padding.
    Valid,
}


/// A convolution layer independent of the input's spatial size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels `C` (all groups together).
    pub in_channels: usize,
    /// Output channels `M` (all groups together).
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    pub padding: Padding,
    pub groups: usize,
}

/// The checks every convolution layer (direct or transposed) makes before any size is known.
pub fn check_layer(in_channels: usize, out_channels: usize, kernel: [usize; 2], strides: [usize; 2], dilations: [usize; 2], groups: usize) -> Result<(), Status> {
    if in_channels == 0 || out_channels == 0 || kernel.contains(&0) || groups == 0 {
        return Err(Status::ZeroDimension);
    }
    if in_channels % groups != 0 || out_channels % groups != 0 {
        return Err(Status::GroupsDoNotDivideChannels);
    }
    if strides.contains(&0) {
        return Err(Status::NonPositiveStride);
    }
    if dilations.contains(&0) {
        return Err(Status::NonPositiveDilation);
    }
    Ok(())
}

impl ConvShape {
    pub fn validate(&self) -> Result<(), Status> {
        check_layer(self.in_channels, self.out_channels, self.kernel, self.strides, self.dilations, self.groups)
    }

    /// Input channels seen by one output channel.
    pub fn channels_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    pub fn outputs_per_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Extent of the kernel once dilated: `(k - 1) * d + 1`.
    pub fn effective_kernel(&self) -> [usize; 2] {
        [(self.kernel[0] - 1) * self.dilations[0] + 1, (self.kernel[1] - 1) * self.dilations[1] + 1]
    }

    pub fn weight_len(&self) -> usize {
        self.out_channels * self.channels_per_group() * self.kernel[0] * self.kernel[1]
    }

    /// Resolves padding and output size for an input of `[batch, in_channels, height, width]`.
    pub fn geometry(&self, batch: usize, height: usize, width: usize) -> Result<Geometry, Status> {
        self.validate()?;
        if batch == 0 || height == 0 || width == 0 {
            return Err(Status::ZeroDimension);
        }
        let eff = self.effective_kernel();
        let (pads, out) = match self.padding {
            Padding::Explicit(p) => {
                let span = [height + p[0] + p[2], width + p[1] + p[3]];
                if span[0] < eff[0] || span[1] < eff[1] {
                    return Err(Status::OutputBelowOne);
                }
                (p, [(span[0] - eff[0]) / self.strides[0] + 1, (span[1] - eff[1]) / self.strides[1] + 1])
            }
            Padding::Valid => {
                if height < eff[0] || width < eff[1] {
                    return Err(Status::OutputBelowOne);
                }
                ([0; 4], [(height - eff[0]) / self.strides[0] + 1, (width - eff[1]) / self.strides[1] + 1])
            }
            Padding::SameUpper | Padding::SameLower => {
                let upper = self.padding == Padding::SameUpper;
                let mut pads = [0usize; 4];
                let mut out = [0usize; 2];
                for (axis, size) in [height, width].into_iter().enumerate() {
                    let o = size.div_ceil(self.strides[axis]);
                    let total = ((o - 1) * self.strides[axis] + eff[axis]).saturating_sub(size);
                    let (begin, end) = if upper { (total / 2, total - total / 2) } else { (total - total / 2, total / 2) };
                    pads[axis] = begin;
                    pads[axis + 2] = end;
                    out[axis] = o;
                }
                (pads, out)
            }
        };
        let geometry = Geometry {
            batch,
            in_channels: self.in_channels,
            height,
            width,
            out_channels: self.out_channels,
            kernel: self.kernel,
            strides: self.strides,
            dilations: self.dilations,
            pads,
            groups: self.groups,
            out_height: out[0],
            out_width: out[1],
        };
        geometry.check_sizes()?;
        Ok(geometry)
    }
}

/// A convolution with a known input size: every number the kernels need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub in_channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// `[top, left, bottom, right]`
    pub pads: [usize; 4],
    pub groups: usize,
    pub out_height: usize,
    pub out_width: usize,
}

impl Geometry {
    pub fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.height * self.width
    }
    pub fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.out_height * self.out_width
    }
    pub fn channels_per_group(&self) -> usize {
        self.in_channels / self.groups
    }
    pub fn outputs_per_group(&self) -> usize {
        self.out_channels / self.groups
    }
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Every product the kernels form must fit in `usize` (32 bits on wasm32), so address arithmetic
    /// cannot wrap into a wrong-but-valid address.
    fn check_sizes(&self) -> Result<(), Status> {
        let mul = |a: usize, b: usize| a.checked_mul(b).ok_or(Status::SizeOverflow);
        let input = mul(mul(mul(self.batch, self.in_channels)?, self.height)?, self.width)?;
        let output = mul(mul(mul(self.batch, self.out_channels)?, self.out_height)?, self.out_width)?;
        // Byte sizes too, with room for the padded extents the kernels address.
        mul(input, 4)?;
        mul(output, 4)?;
        let padded_h = self.height + self.pads[0] + self.pads[2];
        let padded_w = self.width + self.pads[1] + self.pads[3];
        mul(mul(padded_h, padded_w)?, 4)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(k: usize, s: usize, d: usize, padding: Padding) -> ConvShape {
        ConvShape {
            in_channels: 1,
            out_channels: 1,
            kernel: [k, k],
            strides: [s, s],
            dilations: [d, d],
            padding,
            groups: 1,
        }
    }

    #[test]
    fn same_padding_uses_the_dilated_extent() {
        // The classic: 5x5 kernel, dilation 2 spans 9x9, SAME keeps 28x28 with 4 pixels of padding a side.
        let g = shape(5, 1, 2, Padding::SameUpper).geometry(1, 28, 28).unwrap();
        assert_eq!((g.out_height, g.out_width), (28, 28));
        assert_eq!(g.pads, [4, 4, 4, 4]);
    }

    #[test]
    fn same_lower_puts_the_odd_pixel_first() {
        let g = shape(2, 1, 1, Padding::SameLower).geometry(1, 5, 5).unwrap();
        assert_eq!(g.pads, [1, 1, 0, 0]);
        let g = shape(2, 1, 1, Padding::SameUpper).geometry(1, 5, 5).unwrap();
        assert_eq!(g.pads, [0, 0, 1, 1]);
    }

    #[test]
    fn same_with_stride_rounds_up() {
        let g = shape(3, 2, 2, Padding::SameUpper).geometry(1, 7, 8).unwrap();
        assert_eq!((g.out_height, g.out_width), (4, 4));
        // total = (4-1)*2 + 5 - 7 = 4 rows; (4-1)*2 + 5 - 8 = 3 columns.
        assert_eq!(g.pads, [2, 1, 2, 2]);
    }

    #[test]
    fn kernel_larger_than_input_without_padding_is_an_error() {
        assert_eq!(shape(3, 1, 4, Padding::Valid).geometry(1, 8, 8), Err(Status::OutputBelowOne));
        assert!(shape(3, 1, 4, Padding::Explicit([0, 1, 0, 0])).geometry(1, 8, 8).is_err());
        assert!(shape(3, 1, 4, Padding::Explicit([1, 0, 0, 0])).geometry(1, 8, 9).is_ok());
    }

    #[test]
    fn huge_sizes_are_rejected_not_wrapped() {
        let s = shape(1, 1, 1, Padding::Valid);
        assert_eq!(s.geometry(usize::MAX / 2, 4, 4), Err(Status::SizeOverflow));
    }
}
