# transfuse_glibc_2_28(TARGET): makes a shipped shared library load on glibc >= 2.28 although it is built
# on a newer one (issue 19; ci/glibc-check.sh checks the result). glibc_2_28.cpp says how: every symbol in
# TF_GLIBC_2_28_WRAPPED is redirected there with -Wl,--wrap, where it jumps to its old symbol version or
# is defined anew; libstdc++ and libgcc are linked statically (a 2.28 system's may be older than ours);
# libpthread, libdl and librt are named as needed, since glibc < 2.34 defines the old versions there.
set(TF_GLIBC_2_28_WRAPPED
  pthread_create pthread_detach pthread_join pthread_kill pthread_attr_setstacksize pthread_getspecific
  pthread_setspecific pthread_key_create __pthread_key_create pthread_key_delete pthread_once
  pthread_mutex_trylock pthread_mutexattr_destroy pthread_mutexattr_init pthread_mutexattr_setpshared
  pthread_mutexattr_settype pthread_condattr_setpshared pthread_rwlock_destroy pthread_rwlock_init
  pthread_rwlock_rdlock pthread_rwlock_timedrdlock pthread_rwlock_timedwrlock pthread_rwlock_tryrdlock
  pthread_rwlock_trywrlock pthread_rwlock_unlock pthread_rwlock_wrlock pthread_rwlockattr_destroy
  pthread_rwlockattr_init pthread_rwlockattr_setpshared pthread_spin_destroy pthread_spin_init
  pthread_spin_lock pthread_spin_trylock pthread_spin_unlock sem_destroy sem_init sem_post sem_timedwait
  sem_trywait sem_wait shm_open shm_unlink dlopen dlclose dlsym dlvsym dlerror dlmopen
  __libc_single_threaded arc4random _dl_find_object)

function(transfuse_glibc_2_28 target)
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux" OR NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    return()
  endif()
  target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/native/compat/glibc_2_28.cpp)
  set(wraps)
  foreach(sym IN LISTS TF_GLIBC_2_28_WRAPPED)
    list(APPEND wraps "LINKER:--wrap=${sym}")
  endforeach()
  # LINKER: reaches the linker from g++ and from nvcc alike; the static runtimes are compiler driver flags.
  target_link_options(${target} PRIVATE ${wraps}
                      "LINKER:--no-as-needed,-l:libpthread.so.0,-l:libdl.so.2,-l:librt.so.1,--as-needed"
                      # the static libstdc++'s symbols stay inside (no clash with another library's copy)
                      "LINKER:--exclude-libs,ALL"
                      $<$<LINK_LANGUAGE:CXX>:-static-libstdc++>
                      $<$<LINK_LANGUAGE:CXX>:-static-libgcc>
                      $<$<LINK_LANGUAGE:CUDA>:-Xcompiler=-static-libstdc++,-static-libgcc>)
endfunction()
