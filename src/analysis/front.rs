//! The lower-left front of a comparison: the choices no other beats on both storage and error.

/// For each point `(bits, error)`, whether it is on the front: no other point has at most its
/// bits and at most its error, and less of one of them. Points whose error is not a number
/// (a format that cannot take the data) are never on it, nor beat another.
pub fn pareto_front(points: &[(f64, Option<f64>)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(b, e)| {
            let Some(e) = e.filter(|e| !e.is_nan()) else {
                return false;
            };
            !points.iter().any(|&(b2, e2)| match e2 {
                Some(e2) if !e2.is_nan() => b2 <= b && e2 <= e && (b2 < b || e2 < e),
                _ => false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_is_what_nothing_beats() {
        let pts = [
            (2.0, Some(1.0)),
            (4.5, Some(0.1)),
            (4.5, Some(0.05)),
            (5.0, Some(0.2)),
            (8.0, Some(0.001)),
            (3.0, None),
            (6.0, Some(f64::NAN)),
            (8.0, Some(0.001)),
        ];
        assert_eq!(
            pareto_front(&pts),
            vec![true, false, true, false, true, false, false, true]
        );
    }
}
