# mosaic_add_test / mosaic_add_bench, after Abseil's absl_cc_test and Arrow's add_arrow_test.

function(mosaic_set_warnings target)
  # Designated initializers that leave fields at their defaults ({.fps = 30}) are an idiom here,
  # so -Wmissing-field-initializers (part of -Wextra) is off.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter
                                           -Wno-missing-field-initializers)
  # GCC 12 reports false -Wrestrict/-Wstringop-overflow positives inside libstdc++'s std::string
  # at -O2/-O3 (GCC bugs 105329, 105651); they say nothing about our code.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict -Wno-stringop-overflow)
  endif()
  if(MOSAIC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(mosaic_apply_sanitizers target)
  if(MOSAIC_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# mosaic_add_test(NAME <name> SOURCES <files...> [DEPS <targets...>] [LABELS <labels...>])
function(mosaic_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE mosaic::mosaic GTest::gtest GTest::gtest_main GTest::gmock fmt::fmt ${T_DEPS})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${T_NAME} PRIVATE
    MOSAIC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    MOSAIC_BINARY_DIR="${PROJECT_BINARY_DIR}")
  mosaic_set_warnings(${T_NAME})
  mosaic_apply_sanitizers(${T_NAME})
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${T_LABELS}"
                       ENVIRONMENT "MOSAIC_BIN=$<TARGET_FILE:mosaic_cli>")
endfunction()

# mosaic_add_bench(NAME <name> SOURCES <files...> [DEPS <targets...>])
function(mosaic_add_bench)
  cmake_parse_arguments(B "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE mosaic::mosaic benchmark::benchmark fmt::fmt ${B_DEPS})
  target_include_directories(${B_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/bench)
  mosaic_set_warnings(${B_NAME})
endfunction()
