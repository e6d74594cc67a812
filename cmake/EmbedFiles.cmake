# embed_files(NAME OUTPUT file...) writes OUTPUT, a C++ file that defines
# hoist::embedded::get(name) returning each file's bytes, and re-runs when any
# of the files changes.
function(embed_files name output)
  set(inputs "")
  string(REPLACE ";" "|" joined "${ARGN}")
  foreach(f ${ARGN})
    list(APPEND inputs ${CMAKE_SOURCE_DIR}/${f})
  endforeach()
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DROOT=${CMAKE_SOURCE_DIR} "-DFILES=${joined}"
            -P ${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    DEPENDS ${inputs} ${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    COMMENT "Embedding ${ARGN}"
    VERBATIM)
endfunction()
