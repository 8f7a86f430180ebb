# plumb_module(NAME DEPS dep1 dep2 ... [LIBS extlib ...])
# One static library per src/<module>/ directory. Sources are every *.cpp in the
# directory (and its subdirectories), so adding a file needs no CMake edit.
# Only include/ (the public API) and src/ are on the include path; a module
# includes another module's internal headers as "<module>/header.h", and can
# only link what it lists in DEPS.
function(plumb_module name)
  cmake_parse_arguments(PM "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  set(deps)
  foreach(d ${PM_DEPS})
    list(APPEND deps plumb_${d})
  endforeach()
  if(srcs)
    add_library(plumb_${name} STATIC ${srcs})
    target_include_directories(plumb_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(plumb_${name} PUBLIC ${deps} ${PM_LIBS} Threads::Threads)
  else()  # a module with no sources yet
    add_library(plumb_${name} INTERFACE)
    target_include_directories(plumb_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(plumb_${name} INTERFACE ${deps} ${PM_LIBS} Threads::Threads)
  endif()
endfunction()
