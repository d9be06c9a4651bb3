//! In-process benchmark of the notebook's workload (`quantviz bench`).
