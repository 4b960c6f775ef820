//! The field map: which piece of a magnet's cross-section a point lies in
//! and the field there (muon_shield.md §3.3 [S9, L267–420]).
//!
//! Fields exist only inside iron and are uniform per piece (FairShip's
//! constant-field mode used by L-GSO): core `(0, s B0, 0)`, return yokes
//! `(0, -s B0, 0)`, top/bottom connectors `(s B0 sgn x sgn y, 0, 0)`, with
//! `s` the magnet's polarity; in tesla.

use super::geometry::Section;

/// The piece of a magnet cross-section a point `(x, y)` lies in (§3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Outside the iron (`|x| > 2 dX + g` or `|y| > dY + dX`).
    Outside,
    /// One of the two coil windows (`dX < |x| < dX + g`, `|y| < dY`).
    CoilWindow,
    /// The central core (`|x| <= dX`, `|x| + |y| <= dX + dY`).
    Core,
    /// A return yoke (`|x| >= dX + g`, `|x| - |y| >= dX + g - dY`).
    Yoke,
    /// A top or bottom connector (the rest of the iron).
    Connector,
}

impl Region {
    /// Whether the piece is iron.
    pub fn is_iron(self) -> bool {
        matches!(self, Region::Core | Region::Yoke | Region::Connector)
    }
}

/// Classifies `(x, y)` (cm) in the cross-section `s` by the rules of §3.3,
/// applied in order: outside, coil window, core, yoke, connector.
pub fn classify(s: &Section, x: f64, y: f64) -> Region {
    let (a, b) = (x.abs(), y.abs());
    if a > 2.0 * s.dx + s.gap || b > s.dy + s.dx {
        Region::Outside
    } else if a > s.dx && a < s.dx + s.gap && b < s.dy {
        Region::CoilWindow
    } else if a <= s.dx && a + b <= s.dx + s.dy {
        Region::Core
    } else if a >= s.dx + s.gap && a - b >= s.dx + s.gap - s.dy {
        Region::Yoke
    } else {
        Region::Connector
    }
}

/// The field `(Bx, By, Bz)` in tesla at `(x, y)` in region `r` of a magnet
/// with polarity `polarity` (+1 up, -1 down) and magnitude `b0` (§3.3).
/// Zero outside the iron.
pub fn field(r: Region, x: f64, y: f64, polarity: f64, b0: f64) -> [f64; 3] {
    let s = polarity * b0;
    match r {
        Region::Core => [0.0, s, 0.0],
        Region::Yoke => [0.0, -s, 0.0],
        Region::Connector => [s * sign(x) * sign(y), 0.0, 0.0],
        Region::Outside | Region::CoilWindow => [0.0; 3],
    }
}

/// `sgn(v)` with `sgn(0) = +1` (a connector point on an axis is a measure-
/// zero case; FairShip's pieces meet there).
fn sign(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else {
        1.0
    }
}
