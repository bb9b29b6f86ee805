/*
 * real.h: the compute type of the model driver and its kernels.
 *
 * Backends build the driver and kernels with real = float.  The gradient tests build the same
 * sources a second time with -DLR_REAL_DOUBLE, so that finite differences of the very code that
 * ships are taken in double precision, where they are accurate enough to check every gradient to
 * 1e-6.
 */
#ifndef LORENS_REAL_H
#define LORENS_REAL_H

#ifdef LR_REAL_DOUBLE
typedef double real;
#define LR_REAL_NAME "double"
#else
typedef float real;
#define LR_REAL_NAME "float"
#endif

#endif /* LORENS_REAL_H */
