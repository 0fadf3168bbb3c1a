# Every third-party dependency is found here, once. See ARCHITECTURE.md for the list and why.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET fftw3)

# nanoflann is header-only; Debian ships it under /usr/include.
find_path(NANOFLANN_INCLUDE_DIR nanoflann.hpp REQUIRED)

# XGBoost C API (Debian's libxgboost-dev 1.7).
find_path(XGBOOST_INCLUDE_DIR xgboost/c_api.h REQUIRED)
find_library(XGBOOST_LIBRARY NAMES xgboost REQUIRED)
add_library(mosaic_xgboost INTERFACE)
target_include_directories(mosaic_xgboost SYSTEM INTERFACE ${XGBOOST_INCLUDE_DIR})
target_link_libraries(mosaic_xgboost INTERFACE ${XGBOOST_LIBRARY})

# DuckDB 1.4.4: by default the copy scripts/bootstrap.sh fetched into third_party/duckdb.
find_path(DUCKDB_INCLUDE_DIR duckdb.h PATHS "${DUCKDB_ROOT}/include" NO_DEFAULT_PATH)
find_library(DUCKDB_LIBRARY duckdb PATHS "${DUCKDB_ROOT}/lib" NO_DEFAULT_PATH)
if(NOT DUCKDB_INCLUDE_DIR OR NOT DUCKDB_LIBRARY)
  message(FATAL_ERROR "DuckDB not found under DUCKDB_ROOT=${DUCKDB_ROOT}. Run scripts/bootstrap.sh "
                      "(or pass -DDUCKDB_ROOT=<dir with include/duckdb.h and lib/libduckdb.so>).")
endif()
# Check the library version at configure time: the on-disk format and C API we rely on are 1.4.4's.
set(_duck_probe_dir "${CMAKE_BINARY_DIR}/duckdb_version_probe")
file(WRITE "${_duck_probe_dir}/probe.c"
  "#include <stdio.h>\n#include <duckdb.h>\nint main(void){printf(\"%s\", duckdb_library_version());return 0;}\n")
try_run(_duck_run_rc _duck_compile_ok "${_duck_probe_dir}/build" "${_duck_probe_dir}/probe.c"
        CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${DUCKDB_INCLUDE_DIR}"
        LINK_LIBRARIES "${DUCKDB_LIBRARY}" "-Wl,-rpath,${DUCKDB_ROOT}/lib"
        COMPILE_OUTPUT_VARIABLE _duck_compile_out RUN_OUTPUT_VARIABLE _duck_version)
if(NOT _duck_compile_ok)
  message(FATAL_ERROR "Cannot compile against DuckDB in ${DUCKDB_ROOT}: ${_duck_compile_out}")
endif()
if(NOT _duck_version STREQUAL "v1.4.4")
  message(FATAL_ERROR "DuckDB in ${DUCKDB_ROOT} reports version '${_duck_version}', expected 'v1.4.4'.")
endif()
message(STATUS "DuckDB ${_duck_version} at ${DUCKDB_LIBRARY}")
add_library(mosaic_duckdb INTERFACE)
target_include_directories(mosaic_duckdb SYSTEM INTERFACE ${DUCKDB_INCLUDE_DIR})
target_link_libraries(mosaic_duckdb INTERFACE ${DUCKDB_LIBRARY})

if(MOSAIC_WITH_VIDEO)
  pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libswscale libavutil)
endif()

if(MOSAIC_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(MOSAIC_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
