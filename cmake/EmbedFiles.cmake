# embed_files(NAME OUTPUT file...) writes OUTPUT, a C++ file that defines
# hoist::embedded::get(name) returning each file's bytes, and re-runs when any
# of the files changes. A file is either a path relative to the source tree
# (embedded under that name: "agent/loader.sh") or NAME=ABSOLUTE_PATH, for a
# file generated in the build tree ("agent.pyz=${CMAKE_BINARY_DIR}/x.pyz");
# a generated file's own custom command must be in the same directory.
function(embed_files name output)
  set(inputs "")
  set(entries "")
  foreach(f ${ARGN})
    if(f MATCHES "^([^=]+)=(.+)$")
      set(entry_name ${CMAKE_MATCH_1})
      set(path ${CMAKE_MATCH_2})
    else()
      set(entry_name ${f})
      set(path ${CMAKE_SOURCE_DIR}/${f})
    endif()
    list(APPEND inputs ${path})
    list(APPEND entries "${entry_name}=${path}")
  endforeach()
  string(REPLACE ";" "|" joined "${entries}")
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} "-DFILES=${joined}"
            -P ${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    DEPENDS ${inputs} ${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    COMMENT "Embedding ${ARGN}"
    VERBATIM)
endfunction()
