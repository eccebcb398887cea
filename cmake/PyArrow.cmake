# Debian 12 has no libarrow-dev; the pyarrow wheel ships libarrow, libarrow_compute and
# libparquet with their headers. The build is therefore tied to the pinned pyarrow version.
execute_process(
  COMMAND ${Python_EXECUTABLE} -c "import pyarrow as pa; print(pa.get_include()); print(pa.get_library_dirs()[0])"
  OUTPUT_VARIABLE _pyarrow_out OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _pyarrow_rc)
if(NOT _pyarrow_rc EQUAL 0)
  message(FATAL_ERROR "pyarrow is required to build millstream (pip install pyarrow==26.0.1)")
endif()
string(REPLACE "\n" ";" _pyarrow_out "${_pyarrow_out}")
list(GET _pyarrow_out 0 PYARROW_INCLUDE_DIR)
list(GET _pyarrow_out 1 PYARROW_LIBRARY_DIR)
set(PYARROW_LIBRARY_DIR ${PYARROW_LIBRARY_DIR} CACHE INTERNAL "")

function(millstream_import_pyarrow_lib target stem)
  file(GLOB _candidates "${PYARROW_LIBRARY_DIR}/lib${stem}.so.[0-9]*")
  list(FILTER _candidates EXCLUDE REGEX "\\.so\\.[0-9]+\\.[0-9]")
  if(NOT _candidates)
    message(FATAL_ERROR "lib${stem}.so.* not found in ${PYARROW_LIBRARY_DIR}")
  endif()
  list(GET _candidates 0 _lib)
  add_library(${target} SHARED IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${_lib}"
    INTERFACE_INCLUDE_DIRECTORIES "${PYARROW_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=1")
endfunction()

millstream_import_pyarrow_lib(Arrow::arrow arrow)
millstream_import_pyarrow_lib(Arrow::compute arrow_compute)
millstream_import_pyarrow_lib(Arrow::parquet parquet)
