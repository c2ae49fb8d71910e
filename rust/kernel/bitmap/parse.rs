// SPDX-License-Identifier: GPL-2.0

//! A bitmap from its text form, as `%*pb` prints it.
//!
//! C header: [`include/linux/bitmap.h`](srctree/include/linux/bitmap.h); the parser is
//! `bitmap_parse()` in [`lib/bitmap-str.c`](srctree/lib/bitmap-str.c).

use crate::{
    bindings,
    bitmap::Bitmap,
    error::{code::EINVAL, to_result, Result},
};

impl Bitmap {
    /// Sets this bitmap from `buf`: hex digits grouped by commas into 32-bit words, the most
    /// significant first, as `%*pb` prints a bitmap (`"00000000,00000238"`, or short:
    /// `"238"`); whitespace around the words and one trailing newline are accepted, and a
    /// NUL ends the text. Every bit the text does not set is cleared.
    ///
    /// This is the kernel's `bitmap_parse()`, what sysfs attributes holding bitmaps use.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a character that is not a hex digit, comma or whitespace, or a `buf`
    /// longer than `u32::MAX` bytes; `EOVERFLOW` for a word of more than 32 bits or a set bit
    /// at or beyond [`Bitmap::len`]. On error the bitmap's bits are unspecified: parse into a
    /// scratch bitmap to keep a value on bad input.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{alloc::flags::GFP_KERNEL, bitmap::BitmapVec, error::code::*};
    ///
    /// let mut b = BitmapVec::new(256, GFP_KERNEL)?;
    /// b.parse_hex(b"238\n")?;
    /// assert_eq!(b.next_bit(0), Some(3));
    /// assert_eq!(b.next_bit(4), Some(4));
    /// assert_eq!(b.next_bit(6), Some(9));
    /// assert_eq!(b.next_bit(10), None);
    /// b.parse_hex(b"1,00000000")?;
    /// assert_eq!(b.next_bit(0), Some(32));
    /// assert_eq!(b.parse_hex(b"12x"), Err(EINVAL));
    /// assert_eq!(b.parse_hex(b"100000000"), Err(EOVERFLOW));
    ///
    /// let mut small = BitmapVec::new(8, GFP_KERNEL)?;
    /// assert_eq!(small.parse_hex(b"100"), Err(EOVERFLOW));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn parse_hex(&mut self, buf: &[u8]) -> Result {
        let buflen = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // By the type invariant, the length fits in an `int`.
        let nbits = i32::try_from(self.len()).map_err(|_| EINVAL)?;
        let dst = self.as_mut_ptr().cast();
        // `bitmap_parse()` reads at most `buflen` bytes (it stops there, at a NUL or at a
        // newline) and writes only the `nbits` bits of `dst`.
        // SAFETY: `buf` is valid for reads of `buflen` bytes; by the type invariant `dst` is an
        // array of `unsigned long` holding `nbits` bits, which `&mut self` gives this call alone.
        let rc = unsafe { bindings::bitmap_parse(buf.as_ptr().cast(), buflen, dst, nbits) };
        to_result(rc)
    }
}
