/*
 * glibc_2_28.cpp: lets a shipped library built on a new glibc load on glibc 2.28 (issue 19; checked by
 * ci/glibc-check.sh). Linked into each shipped library by transfuse_glibc_2_28() (glibc_2_28.cmake), which
 * passes -Wl,--wrap=SYMBOL for every symbol below, so that all references to it (ours, the static
 * libstdc++'s, the static CUDA runtime's) come here instead.
 *
 * 1. Functions that glibc 2.34 moved into libc (from libpthread, libdl, librt) got a new default version,
 *    GLIBC_2.34, and kept their old one as a compat version. A jump to the old version (bound with
 *    .symver) makes the library need only that; glibc >= 2.34 defines it in libc.so.6, older ones in
 *    libpthread.so.0 / libdl.so.2 / librt.so.1, which the library names as needed (glibc_2_28.cmake).
 * 2. Three symbols that the static libstdc++ and libgcc use and glibc 2.28 does not have at all:
 *    __libc_single_threaded (2.32), arc4random (2.36, random_device), _dl_find_object (2.35, the
 *    unwinder's FDE lookup). They get definitions here that glibc 2.28 can provide.
 * The symbol list and versions are x86-64's (the only platform shipped: NativeLibrary.SUPPORTED_PLATFORMS).
 */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "glibc_2_28.cpp lists x86-64 symbol versions"
#endif

/* __wrap_SYM: a tail jump to SYM@VER (arguments untouched, whatever the signature). */
#define TF_OLD_VERSION(sym, ver)                                                           \
    __asm__(".pushsection .text\n"                                                         \
            ".symver tf_old_" #sym ", " #sym "@" ver "\n"                                  \
            ".globl __wrap_" #sym "\n"                                                     \
            ".hidden __wrap_" #sym "\n"                                                    \
            ".type __wrap_" #sym ", @function\n"                                           \
            "__wrap_" #sym ":\n"                                                           \
            "    jmp tf_old_" #sym "@PLT\n"                                                \
            ".size __wrap_" #sym ", .-__wrap_" #sym "\n"                                   \
            ".popsection\n");

/* Keep in sync with TF_GLIBC_2_28_WRAPPED in glibc_2_28.cmake. */
TF_OLD_VERSION(pthread_create, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_detach, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_join, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_kill, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_attr_setstacksize, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_getspecific, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_setspecific, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_key_create, "GLIBC_2.2.5")
TF_OLD_VERSION(__pthread_key_create, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_key_delete, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_once, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_mutex_trylock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_mutexattr_destroy, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_mutexattr_init, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_mutexattr_setpshared, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_mutexattr_settype, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_condattr_setpshared, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_destroy, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_init, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_rdlock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_timedrdlock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_timedwrlock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_tryrdlock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_trywrlock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_unlock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlock_wrlock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlockattr_destroy, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlockattr_init, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_rwlockattr_setpshared, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_spin_destroy, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_spin_init, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_spin_lock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_spin_trylock, "GLIBC_2.2.5")
TF_OLD_VERSION(pthread_spin_unlock, "GLIBC_2.2.5")
TF_OLD_VERSION(sem_destroy, "GLIBC_2.2.5")
TF_OLD_VERSION(sem_init, "GLIBC_2.2.5")
TF_OLD_VERSION(sem_post, "GLIBC_2.2.5")
TF_OLD_VERSION(sem_timedwait, "GLIBC_2.2.5")
TF_OLD_VERSION(sem_trywait, "GLIBC_2.2.5")
TF_OLD_VERSION(sem_wait, "GLIBC_2.2.5")
TF_OLD_VERSION(shm_open, "GLIBC_2.2.5")
TF_OLD_VERSION(shm_unlink, "GLIBC_2.2.5")
TF_OLD_VERSION(dlopen, "GLIBC_2.2.5")
TF_OLD_VERSION(dlclose, "GLIBC_2.2.5")
TF_OLD_VERSION(dlsym, "GLIBC_2.2.5")
TF_OLD_VERSION(dlvsym, "GLIBC_2.2.5")
TF_OLD_VERSION(dlerror, "GLIBC_2.2.5")
TF_OLD_VERSION(dlmopen, "GLIBC_2.3.4")

#define TF_HIDDEN extern "C" __attribute__((visibility("hidden")))

/* libstdc++ skips atomic reference counting while this is nonzero; 0 = always assume other threads,
 * which is correct (only slower) everywhere. */
TF_HIDDEN char __wrap___libc_single_threaded;
char __wrap___libc_single_threaded = 0;

/* random_device's entropy source (never called by the libraries, but linked with libstdc++'s strings). */
TF_HIDDEN uint32_t __wrap_arc4random(void) {
    uint32_t v;
    if (getentropy(&v, sizeof v) != 0) {
        fprintf(stderr, "transfuse: getentropy failed (no kernel entropy source?)\n");
        abort();
    }
    return v;
}

/* The unwinder's question: which loaded object holds `pc`, and where is its PT_GNU_EH_FRAME? Answered
 * with dl_iterate_phdr (glibc 2.2.5), as libgcc itself does where _dl_find_object does not exist.
 * Returns 0 and fills *result, or -1 when no object maps pc. */
namespace {
struct FindPc {
    uintptr_t pc;
    struct dl_find_object* out;
    bool found;
};

int find_pc(struct dl_phdr_info* info, size_t, void* data) {
    FindPc* f = (FindPc*)data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    bool inside = false;
    void* eh = nullptr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr)& p = info->dlpi_phdr[i];
        const uintptr_t a = info->dlpi_addr + p.p_vaddr;
        if (p.p_type == PT_LOAD) {
            if (a < lo) lo = a;
            if (a + p.p_memsz > hi) hi = a + p.p_memsz;
            if (f->pc >= a && f->pc < a + p.p_memsz) inside = true;
        } else if (p.p_type == PT_GNU_EH_FRAME) {
            eh = (void*)a;
        }
    }
    if (!inside) return 0;
    f->out->dlfo_flags = 0;
    f->out->dlfo_map_start = (void*)lo;
    f->out->dlfo_map_end = (void*)hi;
    f->out->dlfo_link_map = nullptr;
    f->out->dlfo_eh_frame = eh;
    f->found = true;
    return 1;
}
}  // namespace

TF_HIDDEN int __wrap__dl_find_object(void* pc, struct dl_find_object* result) {
    FindPc f{(uintptr_t)pc, result, false};
    dl_iterate_phdr(find_pc, &f);
    return f.found ? 0 : -1;
}
