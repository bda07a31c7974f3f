import { runRelaxationConformance } from './jest';

runRelaxationConformance('built-in relaxations and bound methods');
