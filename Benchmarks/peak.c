// Measures the machine's single-core float32 FMA peak: 12 independent AVX-512 FMA chains in
// registers (no memory traffic). Build: gcc -O2 -mavx512f -mfma Benchmarks/peak.c -o /tmp/peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
int main(){
  __m512 a[12]; __m512 b=_mm512_set1_ps(0.999999f), c=_mm512_set1_ps(1e-7f);
  for(int i=0;i<12;i++) a[i]=_mm512_set1_ps(i);
  long iters=200000000;
  struct timespec t0,t1; clock_gettime(CLOCK_MONOTONIC,&t0);
  for(long k=0;k<iters;k++){
    #pragma GCC unroll 12
    for(int i=0;i<12;i++) a[i]=_mm512_fmadd_ps(a[i],b,c);
  }
  clock_gettime(CLOCK_MONOTONIC,&t1);
  double s=(t1.tv_sec-t0.tv_sec)+(t1.tv_nsec-t0.tv_nsec)*1e-9;
  float r=0; for(int i=0;i<12;i++) r+=_mm512_reduce_add_ps(a[i]);
  printf("%.1f GFLOP/s single core (%.3f s) %f\n", iters*12.0*16*2/s/1e9, s, r);
}
