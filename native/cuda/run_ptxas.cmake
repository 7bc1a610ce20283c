# Assembles one PTX file with ptxas -v and keeps its report (registers, spills, shared memory).
# Usage: cmake -DPTXAS=... -DARCH=sm_80 -DPTX=in.ptx -DLOG=out.log -P run_ptxas.cmake
string(REGEX REPLACE "\\.ptx$" ".cubin" CUBIN "${PTX}")
if(NOT EXISTS "${PTXAS}")
  find_program(PTXAS_FOUND ptxas REQUIRED)
  set(PTXAS ${PTXAS_FOUND})
endif()
execute_process(
  COMMAND ${PTXAS} -v -arch=${ARCH} ${PTX} -o ${CUBIN}
  OUTPUT_FILE ${LOG} ERROR_FILE ${LOG}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(READ ${LOG} text)
  message(FATAL_ERROR "ptxas failed for ${PTX}:\n${text}")
endif()
