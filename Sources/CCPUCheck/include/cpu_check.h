#ifndef TMRVC_CPU_CHECK_H
#define TMRVC_CPU_CHECK_H
/* Referenced by the tmrvc executable so the linker keeps the constructor in cpu_check.c. */
void tmrvc_cpu_check_linked(void);
#endif
