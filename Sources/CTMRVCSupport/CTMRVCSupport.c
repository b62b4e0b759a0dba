// Intentionally empty: the helpers are static inline in include/CTMRVCSupport.h.
