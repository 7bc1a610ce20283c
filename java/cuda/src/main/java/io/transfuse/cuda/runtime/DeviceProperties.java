package io.transfuse.cuda.runtime;

/**
 * What the backend needs to know about a device.
 *
 * @param name              as the driver reports it ("NVIDIA H100 80GB HBM3", "cuda-emu (host)")
 * @param totalBytes        device memory
 * @param multiprocessors   SM count (sizes split-K grids)
 * @param computeCapability major * 10 + minor (80 = sm_80); 0 for the emulator
 */
public record DeviceProperties(String name, long totalBytes, int multiprocessors, int computeCapability) {}
