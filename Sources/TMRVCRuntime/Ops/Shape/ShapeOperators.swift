extension OperatorRegistry {
    /// Shape and data-movement operators.
    static var shapeOperators: [OperatorDefinition] {
        [Operators.reshape, Operators.identity, Operators.constant, Operators.shape,
         Operators.transpose, Operators.flatten, Operators.squeeze, Operators.unsqueeze,
         Operators.concat, Operators.split, Operators.slice, Operators.gather, Operators.gatherElements,
         Operators.pad, Operators.expand, Operators.tile, Operators.constantOfShape, Operators.range,
         Operators.size, Operators.eyeLike, Operators.depthToSpace, Operators.spaceToDepth, Operators.trilu]
    }
}
