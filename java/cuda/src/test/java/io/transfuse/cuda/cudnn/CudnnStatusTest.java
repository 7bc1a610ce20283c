package io.transfuse.cuda.cudnn;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cudnnStatus_t codes (cuDNN 9's numbering, cudnn_graph.h) to categories and exceptions: NOT_SUPPORTED codes become
 * the exception the backend falls back on, every other failure an error naming the call and the code.
 */
class CudnnStatusTest {
    @Test
    void codesMapToTheirCategory() {
        assertEquals(CudnnStatus.NOT_INITIALIZED, CudnnStatus.of(1001));         // CUDNN_STATUS_NOT_INITIALIZED
        assertEquals(CudnnStatus.NOT_INITIALIZED, CudnnStatus.of(1008));         // SUBLIBRARY_LOADING_FAILED
        assertEquals(CudnnStatus.BAD_PARAM, CudnnStatus.of(2000));               // BAD_PARAM
        assertEquals(CudnnStatus.BAD_PARAM, CudnnStatus.of(2002));               // BAD_PARAM_NULL_POINTER
        assertEquals(CudnnStatus.NOT_SUPPORTED, CudnnStatus.of(3000));           // NOT_SUPPORTED
        assertEquals(CudnnStatus.NOT_SUPPORTED, CudnnStatus.of(3002));           // NOT_SUPPORTED_SHAPE
        assertEquals(CudnnStatus.INTERNAL_ERROR, CudnnStatus.of(4000));
        assertEquals(CudnnStatus.EXECUTION_FAILED, CudnnStatus.of(5000));
        assertEquals(CudnnStatus.UNKNOWN, CudnnStatus.of(7));                    // a cuDNN 8 code: not this API
        assertEquals(CudnnStatus.UNKNOWN, CudnnStatus.of(9000));
    }

    @Test
    void notSupportedIsTheFallbackException() {
        CudnnException e = CudnnStatus.exception("cudnnBackendFinalize(execution plan)", 3002, "CUDNN_STATUS_NOT_SUPPORTED_SHAPE");
        assertInstanceOf(CudnnNotSupportedException.class, e);
        assertEquals(3002, e.code());
        assertEquals("cudnnBackendFinalize(execution plan) failed: cudnnStatus 3002 CUDNN_STATUS_NOT_SUPPORTED_SHAPE"
                + " (the operation graph is not supported here)", e.getMessage());
    }

    @Test
    void otherFailuresAreErrorsNamingCallAndCode() {
        CudnnException e = CudnnStatus.exception("cudnnBackendSetAttribute(X, attribute 902)", 2000, null);
        assertFalse(e instanceof CudnnNotSupportedException);
        assertEquals(CudnnStatus.BAD_PARAM, e.status());
        assertTrue(e.getMessage().startsWith("cudnnBackendSetAttribute(X, attribute 902) failed: cudnnStatus 2000 ("), e.getMessage());
        assertInstanceOf(io.transfuse.cuda.runtime.GpuException.class, CudnnStatus.exception("cudnnBackendExecute", 5000, ""));
    }
}
