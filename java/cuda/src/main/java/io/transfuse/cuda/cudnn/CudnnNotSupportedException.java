package io.transfuse.cuda.cudnn;

/** cuDNN has no engine for this graph on this GPU (status 3xxx): the caller runs its own kernel instead. */
public final class CudnnNotSupportedException extends CudnnException {
    public CudnnNotSupportedException(String message, int code) {
        super(message, code, CudnnStatus.NOT_SUPPORTED);
    }
}
