/* Types only (tmrvc_types.h); the functions of tmrvc.h are implemented in Swift (TMRVCCAPI). */
