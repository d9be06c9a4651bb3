//! Views: charts drawn by plotters onto any `DrawingBackend` (the page's canvas, SVG, PNG).
